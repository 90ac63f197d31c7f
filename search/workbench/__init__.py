"""The word-vector workbench: nearest words and analogies (:mod:`.words`), model
benchmarks (:mod:`.model_eval`), maps (:mod:`.mapping`), contextual comparison
(:mod:`.compare`) and retrieval evaluation (:mod:`.evaluate`, :mod:`.metrics`).

Nothing on the query path imports these modules.
"""
