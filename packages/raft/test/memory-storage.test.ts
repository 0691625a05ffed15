// MemoryStorage runs the RaftStorage conformance suite. Its durability model is the
// simulation's: a "restart" keeps the object and throws the Raft core away.
import { MemoryStorage } from '../src/index.js';
import { storageConformance } from './conformance/storage.js';

storageConformance('MemoryStorage', {
  open: async () => new MemoryStorage(),
  reopen: async (previous) => previous,
});
