// What an erasure removes of the campaigns part (src/privacy/erasure-targets.ts): the address's
// rows in every broadcast's recipient list, and the import reports that quote it. Contacts (with
// their segment and topic rows, which cascade) are erased by src/privacy/erasure.ts itself.
import { registerErasureTarget } from '../privacy/erasure-targets.ts';

// A recipient's open and click records (broadcast_events, keyed by recipient_id) go with it, where that table exists.
registerErasureTarget({ kind: 'broadcast_recipients', table: 'broadcast_recipients', equals: ['email'], dependents: [{ table: 'broadcast_events', column: 'recipient_id', kind: 'broadcast_events' }] });
// An import's error report names the rows it refused (`{ line, email, message }`): the report stays, the address goes.
registerErasureTarget({ kind: 'contact_imports_redacted', table: 'contact_imports', contains: ['errors_json', 'failure'], mode: 'redact' });
