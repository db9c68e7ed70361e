"""Evidence: resumable uploads, the content-addressed store, image checks and a task's files."""
