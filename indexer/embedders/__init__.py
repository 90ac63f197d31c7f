"""Embedders: turn text into unit vectors. See :mod:`indexer.embedders.factory`."""

from indexer.embedders.base import Embedder, EmbedderError, Embeddings
from indexer.embedders.factory import create_embedder, embedder_from_spec

__all__ = ["Embedder", "EmbedderError", "Embeddings", "create_embedder", "embedder_from_spec"]
