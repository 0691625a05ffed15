import { runTransactionsDemo } from './demo.js';

await runTransactionsDemo();
