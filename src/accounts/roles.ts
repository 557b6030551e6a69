// Who may do what: the one table of permissions. Members act with their role; an API key with
// full_access acts as an admin, a sending_access key may only send.
export const ROLES = ['owner', 'admin', 'developer', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** The actor kinds a permission can be granted to: the four member roles plus the sending-only key. */
export type Grantee = Role | 'sender';

export const PERMISSIONS = {
  'workspace:read':   ['owner', 'admin', 'developer', 'viewer'],
  'workspace:update': ['owner', 'admin'],
  'workspace:close':  ['owner'],
  'members:read':     ['owner', 'admin', 'developer', 'viewer'],
  'members:manage':   ['owner', 'admin'],
  'api_keys:read':    ['owner', 'admin', 'developer', 'viewer'],
  'api_keys:manage':  ['owner', 'admin', 'developer'],
  'audit:read':       ['owner', 'admin'],
  'domains:read':     ['owner', 'admin', 'developer', 'viewer'],
  'domains:manage':   ['owner', 'admin', 'developer'],
  'emails:read':      ['owner', 'admin', 'developer', 'viewer'],
  'emails:send':      ['owner', 'admin', 'developer', 'sender'],
  // Rescheduling or cancelling a scheduled email is not sending: Resend's sending access "can only
  // send emails", so a sending_access key gets 403 here as on every other non-send route.
  'emails:manage':    ['owner', 'admin', 'developer'],
  'webhooks:read':    ['owner', 'admin', 'developer', 'viewer'],
  'webhooks:manage':  ['owner', 'admin', 'developer'],
  'suppressions:read':   ['owner', 'admin', 'developer', 'viewer'],
  'suppressions:manage': ['owner', 'admin', 'developer'],
  // Hosted mailboxes (inboxes), their mail, aliases, forwarding and app passwords.
  'inboxes:read':     ['owner', 'admin', 'developer', 'viewer'],
  'inboxes:manage':   ['owner', 'admin', 'developer'],
  // Sending from a hosted mailbox (webmail, inbox replies): people who may send; never a sending_access key.
  'inboxes:send':     ['owner', 'admin', 'developer'],
  // Data portability and erasure (src/privacy/).
  'exports:manage':   ['owner', 'admin'],
  'erasures:manage':  ['owner', 'admin'],
  // Campaigns: contacts, properties, segments, topics, templates, broadcasts, imports.
  'campaigns:read':   ['owner', 'admin', 'developer', 'viewer'],
  'campaigns:manage': ['owner', 'admin', 'developer'],
  'broadcasts:send':  ['owner', 'admin', 'developer'],
} as const satisfies Record<string, readonly Grantee[]>;

export type Permission = keyof typeof PERMISSIONS;

export function can(who: Grantee, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly Grantee[]).includes(who);
}

export function isRole(s: unknown): s is Role {
  return typeof s === 'string' && (ROLES as readonly string[]).includes(s);
}

/** Only an owner may grant or take away the owner role. */
export function canAssignRole(actor: Grantee, role: Role): boolean {
  return role === 'owner' ? actor === 'owner' : can(actor, 'members:manage');
}
