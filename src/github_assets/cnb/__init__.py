"""CNB spec data and the file I/O for it (Buildpack API 0.10); no network code here."""
