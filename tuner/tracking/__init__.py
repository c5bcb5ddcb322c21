"""Where results live: the Tracker interface, the MLflow tracker and the journal."""
