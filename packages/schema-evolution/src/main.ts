// Entry of the schema registry service: `node dist/main.js --port 8081 --data-dir DIR`.
import { configOrExit } from '@ddia/common';
import { createRegistryService } from './server.js';

const config = configOrExit();
if (config.engine !== 'memory' && !config.dataDir) {
  process.stderr.write('error: --data-dir: the registry keeps its schemas there (or pass --engine memory)\n');
  process.exit(2);
}
const service = await createRegistryService({ config });
await service.listen();
