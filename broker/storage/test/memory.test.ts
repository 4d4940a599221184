import { storageConformanceSuite } from '../conformance.js';
import { MemoryStorage } from '../memory.js';

storageConformanceSuite(
  'memory',
  async () => {
    const driver = new MemoryStorage();
    await driver.open();
    // The memory driver keeps its data across close()/open() of the same object.
    return {
      driver,
      reopen: async () => {
        await driver.open();
        return driver;
      },
      cleanup: () => driver.close(),
    };
  },
  { modelRuns: 100 },
);
