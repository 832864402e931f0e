"""The ticket status model's names, shared by services and views."""

STATUSES = ("new", "open", "pending", "solved", "closed", "spam")
PRIORITIES = ("low", "normal", "high", "urgent")
RESOLVE_REASONS = ("spam", "abuse", "test", "duplicate", "via_chat", "via_call", "other")
# Back-office and tracker tickets show the same stored statuses under their own names.
STATUS_LABELS = {
    "new": "submitted",
    "open": "in progress",
    "pending": "waiting on customer",
    "solved": "resolved",
}
