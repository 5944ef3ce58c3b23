"""Where a finished result goes: the report files and notifications."""
