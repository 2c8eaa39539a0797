"""The CRM vocabulary: lead and case statuses, case priorities, and the named groups that transitions,
filters and queries share (contract §6)."""

from django.db import models


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    ENGAGED = "engaged", "Engaged"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    CONVERTED = "converted", "Converted"


# A lead still being qualified: it can still be rejected.
LEAD_IN_QUALIFICATION = (LeadStatus.NEW, LeadStatus.ENGAGED)


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    ESCALATED = "escalated", "Escalated"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


# A case someone still has to work on: it can be resolved.
CASE_ACTIVE = (CaseStatus.OPEN, CaseStatus.ESCALATED)
# Every status a case can be closed from.
CASE_CLOSABLE = (CaseStatus.OPEN, CaseStatus.ESCALATED, CaseStatus.RESOLVED)
# A case whose work is over: it can be reopened.
CASE_FINISHED = (CaseStatus.RESOLVED, CaseStatus.CLOSED)


class CasePriority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"
