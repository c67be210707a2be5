"""Concept classifiers: small pure functions over one ClinicalTrials.gov v2 study record.

Each classifier reads the fields named in its docstring, maps raw spellings to canonical
labels through the curated vocabularies, and can say what matched (rule, phrase, field).
:func:`ici_atlas.concepts.trial.classify_study` runs them all on one record.
"""
