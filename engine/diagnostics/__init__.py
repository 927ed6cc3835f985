"""Checking an installation and measuring it: the self-test and the
training-throughput benchmark."""
