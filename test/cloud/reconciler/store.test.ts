import { storeConformance } from './store-conformance.js';
import { allStores } from './support/stores.js';

// Every store implementation, explicitly: SQLite (file) and PostgreSQL (throwaway local server).
for (const factory of allStores()) storeConformance(factory);
