// Entry: `node packages/partitioning/dist/main.js --id n1 --port 7701
//   --peers n1=http://127.0.0.1:7701,n2=http://127.0.0.1:7702,n3=http://127.0.0.1:7703
//   --data-dir DIR --scheme hash|range|consistent-hash [--partitions 64] [--replicas 1]`
import { ConfigError, configOrExit } from '@ddia/common';
import { PARTITION_FLAGS, startPartitionService } from './partition-service.js';

const config = configOrExit(PARTITION_FLAGS);
try {
  await startPartitionService(config, { onFatal: () => process.exit(1) });
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  console.error(`partitioning ${config.id} failed to start: ${(error as Error).message}`);
  process.exit(1);
}
