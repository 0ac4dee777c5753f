"""The worker side: the consumer, its heartbeat, the sweeper and the task registry."""
