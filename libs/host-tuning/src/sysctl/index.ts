// Filled in by the sysctl work stream.
export {};
