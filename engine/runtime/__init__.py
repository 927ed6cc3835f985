"""The machine a job runs on: the device, CPU threads, mixed precision,
torch.compile, the memory a job may use, and stopping on a signal."""
