"""The Spark engine: the event-scale stage (rules, correlation into hops, aggregation, rarity,
fan-out windows) on Apache Spark, returning the same hops frame as the pandas engine.

Nothing here imports pyspark at import time; :func:`graph.spark.session.spark_session` raises a
clear error when the ``spark`` extra or Java is missing.
"""
