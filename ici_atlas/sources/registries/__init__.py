"""Trial registries other than ClinicalTrials.gov, read into one model.

* :mod:`.model` — :class:`~.model.Registration` (one registration in one registry),
  :class:`~.model.BadRecord`, registry IDs, dates, countries, the API v2 study shape
  (:meth:`~.model.Registration.to_v2`) and :func:`~.model.registration_from_v2`;
* :mod:`.phases` — registry wording -> v2 phases, statuses, study and intervention types;
* one module per format: :mod:`.ictrp` (WHO ICTRP XML and CSV exports), :mod:`.euctr`
  (EUCTR text download, ctrdata EUCTR JSON; member-state rows merged), :mod:`.ctis`
  (CTIS API JSON, old and new shapes), :mod:`.isrctn` (ISRCTN JSON as ctrdata stores it),
  :mod:`.chictr` (ChiCTR detail page);
* :mod:`.detect` — recognise a file's format from its content and read a folder.

De-duplication across registries is :mod:`ici_atlas.concepts.registrations`. Nothing here
touches the store.
"""

from .detect import detect_format, read_registry_files, read_registry_source
from .model import BadRecord, Registration, registration_from_v2

__all__ = ["BadRecord", "Registration", "detect_format", "read_registry_files",
           "read_registry_source", "registration_from_v2"]
