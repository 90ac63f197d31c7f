"""Embedders: turn text into unit vectors. See :mod:`indexer.embedders.factory`."""

from .base import Embedder, EmbedderError, Embeddings
from .factory import create_embedder, embedder_from_spec

__all__ = ["Embedder", "EmbedderError", "Embeddings", "create_embedder", "embedder_from_spec"]
