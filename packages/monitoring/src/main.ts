// Entry: `node packages/monitoring/dist/main.js --port 9090 --data-dir DIR --targets targets.yml
//   [--rules rules.yml] [--scrape-interval 5s]`. SIGHUP re-reads the targets and rules files.
import { configOrExit } from '@ddia/common';
import { MONITORING_FLAGS, startMonitoring } from './monitoring-node.js';

const config = configOrExit(MONITORING_FLAGS);
try {
  const monitoring = await startMonitoring(config);
  process.on('SIGHUP', () => {
    monitoring.reload().catch((err) => monitoring.service.log.error({ err }, 'reload failed'));
  });
} catch (error) {
  console.error(`monitoring failed to start: ${(error as Error).message}`);
  process.exit(1);
}
