// Moved to bench/services/ (the benchmarks start the same servers); kept so existing imports work.
export * from '../../bench/services/free-port.js';
