"""Systematic literature review: search → de-duplicate → screen → PRISMA counts."""
