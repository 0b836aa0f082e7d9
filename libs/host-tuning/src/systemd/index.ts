// Filled in by the systemd work stream.
export {};
