// The one permission table: who may do what. Every role (and the sending-only key) against every
// permission, spelled out here so that a change to the table is a deliberate change to this test.
import { describe, expect, it } from 'vitest';
import { type Grantee, type Permission, PERMISSIONS, ROLES, can, canAssignRole, isRole } from './roles.ts';

const GRANTEES: Grantee[] = [...ROLES, 'sender'];

// Expected answers, written out independently of the table under test.
const EXPECTED: Record<Permission, Grantee[]> = {
  'workspace:read': ['owner', 'admin', 'developer', 'viewer'],
  'workspace:update': ['owner', 'admin'],
  'workspace:close': ['owner'],
  'members:read': ['owner', 'admin', 'developer', 'viewer'],
  'members:manage': ['owner', 'admin'],
  'api_keys:read': ['owner', 'admin', 'developer', 'viewer'],
  'api_keys:manage': ['owner', 'admin', 'developer'],
  'audit:read': ['owner', 'admin'],
  'domains:read': ['owner', 'admin', 'developer', 'viewer'],
  'domains:manage': ['owner', 'admin', 'developer'],
  'emails:read': ['owner', 'admin', 'developer', 'viewer'],
  'emails:send': ['owner', 'admin', 'developer', 'sender'],
  'emails:manage': ['owner', 'admin', 'developer'],
  'webhooks:read': ['owner', 'admin', 'developer', 'viewer'],
  'webhooks:manage': ['owner', 'admin', 'developer'],
  'suppressions:read': ['owner', 'admin', 'developer', 'viewer'],
  'suppressions:manage': ['owner', 'admin', 'developer'],
  'inboxes:read': ['owner', 'admin', 'developer', 'viewer'],
  'inboxes:manage': ['owner', 'admin', 'developer'],
  'inboxes:send': ['owner', 'admin', 'developer'],
  'exports:manage': ['owner', 'admin'],
  'erasures:manage': ['owner', 'admin'],
  'campaigns:read': ['owner', 'admin', 'developer', 'viewer'],
  'campaigns:manage': ['owner', 'admin', 'developer'],
  'broadcasts:send': ['owner', 'admin', 'developer'],
};

describe('the permission table', () => {
  it('has exactly the four member roles, in order of power', () => {
    expect(ROLES).toEqual(['owner', 'admin', 'developer', 'viewer']);
  });

  it('covers every permission this test knows, and no other', () => {
    expect(Object.keys(PERMISSIONS).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const permission of Object.keys(EXPECTED) as Permission[]) {
    for (const who of GRANTEES) {
      const allowed = EXPECTED[permission].includes(who);
      it(`${who} ${allowed ? 'may' : 'may not'} ${permission}`, () => {
        expect(can(who, permission)).toBe(allowed);
      });
    }
  }

  it('gives an owner everything and an admin everything except closing the workspace', () => {
    for (const p of Object.keys(PERMISSIONS) as Permission[]) {
      expect(can('owner', p)).toBe(true);
      expect(can('admin', p)).toBe(p !== 'workspace:close');
    }
  });

  it('never lets a viewer change anything, nor a sending key do anything but send', () => {
    for (const p of Object.keys(PERMISSIONS) as Permission[]) {
      if (!p.endsWith(':read')) expect(can('viewer', p)).toBe(false);
      expect(can('sender', p)).toBe(p === 'emails:send');
    }
  });

  it('is ordered: what a weaker role may do, every stronger role may do too', () => {
    for (const p of Object.keys(PERMISSIONS) as Permission[]) {
      for (let i = 1; i < ROLES.length; i++) {
        if (can(ROLES[i], p)) expect(can(ROLES[i - 1], p), `${ROLES[i - 1]} ⊇ ${ROLES[i]} on ${p}`).toBe(true);
      }
    }
  });
});

describe('isRole', () => {
  it('accepts the four roles and nothing else', () => {
    for (const r of ROLES) expect(isRole(r)).toBe(true);
    for (const x of ['sender', 'Owner', 'OWNER', '', ' owner', 'root', null, undefined, 1, {}, ['owner']]) expect(isRole(x)).toBe(false);
  });
});

describe('canAssignRole', () => {
  it('lets only an owner grant or take away the owner role', () => {
    expect(canAssignRole('owner', 'owner')).toBe(true);
    for (const who of ['admin', 'developer', 'viewer', 'sender'] as Grantee[]) expect(canAssignRole(who, 'owner')).toBe(false);
  });

  it('lets owners and admins assign the other roles, and nobody else', () => {
    for (const role of ['admin', 'developer', 'viewer'] as const) {
      expect(canAssignRole('owner', role)).toBe(true);
      expect(canAssignRole('admin', role)).toBe(true);
      expect(canAssignRole('developer', role)).toBe(false);
      expect(canAssignRole('viewer', role)).toBe(false);
      expect(canAssignRole('sender', role)).toBe(false);
    }
  });
});
