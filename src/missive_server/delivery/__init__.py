"""Side effects that leave the server: the worker, outgoing mail and channels, inbound SMTP."""
