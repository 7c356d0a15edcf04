"""Kafka-protocol brokers for development and tests, and topic administration.

Order of preference (:func:`broker_for_tests`): ``KAFKA_BOOTSTRAP`` if set, a
testcontainers Kafka if a Docker engine answers, the embedded tansu broker otherwise.
"""

from __future__ import annotations

from app.broker.admin import BrokerUnreachable, ensure_topics, wait_for_broker
from app.broker.embedded import BrokerHandle, TansuBroker, broker_for_tests, free_port

__all__ = [
    "BrokerHandle",
    "BrokerUnreachable",
    "TansuBroker",
    "broker_for_tests",
    "ensure_topics",
    "free_port",
    "wait_for_broker",
]
