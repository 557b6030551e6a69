// A long task for the tests of src/cli/progress.ts: STEPS steps of STEP_MS each, stopping at the
// next step after Ctrl-C, exactly as a real command uses the module. Run with tsx.
import { INTERRUPTED_EXIT_CODE, startProgress } from '../cli/progress.ts';

const steps = Number(process.env.STEPS ?? 20);
const stepMs = Number(process.env.STEP_MS ?? 150);
const progress = startProgress('demo import', { total: steps, unit: 'messages' });
for (let i = 1; i <= steps; i++) {
  if (progress.signal.aborted) {
    progress.interrupted('run it again to import the rest');
    process.exit(INTERRUPTED_EXIT_CODE);
  }
  await new Promise((r) => setTimeout(r, stepMs));
  progress.step(`message ${i}`);
}
progress.finish();
