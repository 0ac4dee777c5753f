"""Catalog queries and changes. Services never commit: the caller owns the unit of work."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loadbay.catalog.models import Organization
from loadbay.ids import is_id


def ensure_organization(session: Session, name_or_id: str) -> Organization:
    """The organisation with this id or name, created (by name) if there is none."""
    if is_id(name_or_id):
        found = session.get(Organization, name_or_id)
        if found is not None:
            return found
    org = session.scalar(sa.select(Organization).where(Organization.name == name_or_id))
    if org is None:
        org = Organization(name=name_or_id)
        session.add(org)
        session.flush()
    return org
