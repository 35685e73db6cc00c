// Vite empties the output folder on every build; the Go package that embeds
// it needs the folder (and its tracked .keep) to exist even without a build.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

writeFileSync(fileURLToPath(new URL('../../internal/web/dist/.keep', import.meta.url)), '');
