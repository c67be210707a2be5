"""Sources: read records from ClinicalTrials.gov (API v2, local files); never classify.

* :mod:`.ctgov_query` builds the API v2 search from the drug vocabulary;
* :mod:`.ctgov_api` is the network client (rate, retries, page checks);
* :mod:`.ctgov_files` reads local v2 JSON, JSON arrays, bulk ZIPs, v1 JSON and XML;
* :mod:`.ctgov_legacy` converts v1 JSON and XML records to the v2 shape.

Loading into the store (runs, resume, reconciliation, quarantine) is :mod:`ici_atlas.store.ingest`.
"""
