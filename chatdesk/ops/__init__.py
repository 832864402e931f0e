"""Operations: metrics, logs, the audit log, data protection, retention and backups."""
