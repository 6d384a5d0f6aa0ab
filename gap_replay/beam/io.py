"""Curated corpus I/O on Beam: Parquet per source, through Beam's file sinks (local, gs://, s3://)."""

from __future__ import annotations

from collections.abc import Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from gap_replay.documents import PARQUET_SCHEMA, SOURCES, Document, to_parquet_row


def match_paths(pattern: str) -> list[str]:
    """Paths matching a glob on any Beam filesystem (local, gs://, s3://), sorted."""
    return sorted(metadata.path for metadata in FileSystems.match([pattern])[0].metadata_list)


def curated_prefix(output: str, source: str) -> str:
    return FileSystems.join(output, "curated", source, "part")


class WriteCurated(beam.PTransform):
    """Documents -> `<output>/curated/<source>/part-SSSSS-of-NNNNN.parquet`; 0 shards = the runner decides."""

    def __init__(self, output: str, sources: Sequence[str], num_shards: int = 0) -> None:
        super().__init__()
        self._output = output
        self._num_shards = num_shards
        self._sources = [source for source in SOURCES if source in sources]

    def expand(self, docs: beam.PCollection) -> None:
        by_source = docs | "BySource" >> beam.Partition(
            lambda doc, _: self._sources.index(doc.source), len(self._sources)
        )
        for source, part in zip(self._sources, by_source, strict=True):
            _ = (
                part
                | f"{source}Rows" >> beam.Map(to_parquet_row)
                | f"Write{source.capitalize()}"
                >> beam.io.WriteToParquet(
                    curated_prefix(self._output, source),
                    schema=PARQUET_SCHEMA,
                    file_name_suffix=".parquet",
                    num_shards=self._num_shards,
                )
            )


class ReadCurated(beam.PTransform):
    """Curated Parquet files (the ones curate's record lists) -> Documents."""

    def __init__(self, paths: Sequence[str]) -> None:
        super().__init__()
        self._paths = list(paths)

    def expand(self, pipeline: beam.pvalue.PBegin) -> beam.PCollection:
        return (
            pipeline
            | "CuratedFiles" >> beam.Create(self._paths)
            | "ReadParquet" >> beam.io.ReadAllFromParquet()
            | "ToDocuments" >> beam.Map(Document.from_dict)
        )
