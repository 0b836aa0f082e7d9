// Filled in by the engines work stream.
export {};
