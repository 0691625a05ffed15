// Entry: `node packages/partitioning/dist/main.js --id n1 --port 7701
//   --peers n1=http://127.0.0.1:7701,n2=http://127.0.0.1:7702,n3=http://127.0.0.1:7703
//   --data-dir DIR --scheme hash|range|consistent-hash [--partitions 64] [--replicas 1]`
// or, for the stateless routing tier: `node packages/partitioning/dist/main.js --router
//   --id r1 --port 7700 --seeds http://127.0.0.1:7701,http://127.0.0.1:7702`
import { ConfigError, configOrExit } from '@ddia/common';
import { PARTITION_FLAGS, startPartitionService } from './partition-service.js';
import { ROUTER_FLAGS, startRouter } from './router/router.js';

const asRouter = process.argv.includes('--router');
try {
  if (asRouter) await startRouter(configOrExit(ROUTER_FLAGS));
  else await startPartitionService(configOrExit(PARTITION_FLAGS), { onFatal: () => process.exit(1) });
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  console.error(`partitioning ${asRouter ? 'router' : 'node'} failed to start: ${(error as Error).message}`);
  process.exit(1);
}
