// Runs the scenario files of tests/e2e (written for the unmodified @mux/spaces-web) on Oriel's
// own SDK, unchanged:
//
//   ORIEL_E2E_SDK=oriel node --import ./tests/sdk/lib/use-oriel-sdk.mjs --test tests/e2e/media.test.mjs
//
// ORIEL_E2E_SDK=mixed alternates the SDKs of the participants of each test (a mixed space).
import { register } from 'node:module';

register('./redirect-hooks.mjs', import.meta.url);
