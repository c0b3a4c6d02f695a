-- rekflow search '' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE TRUE
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'label:cat' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'label' AND f.words = 'cat')
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'label:cat text:"open daily"' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE (EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'label' AND f.words = 'cat') AND EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'text' AND (' ' || f.words || ' ') LIKE '% open daily %'))
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'text:"open daily"' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'text' AND (' ' || f.words || ' ') LIKE '% open daily %')
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'rocket' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind IN ('label', 'text') AND (' ' || f.words || ' ') LIKE '% rocket %')
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'moderation:yes' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'moderation')
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'moderation:no confidence:>=80' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE (a.moderation_ran AND NOT EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'moderation' AND (f.confidence >= 80.0E0)))
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'moderation:suggestive|violence' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE (EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'moderation' AND (f.words = 'suggestive' OR f.parent_words = 'suggestive')) OR EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'moderation' AND (f.words = 'violence' OR f.parent_words = 'violence')))
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'faces:>=3' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE (a.faces IS NOT NULL AND a.faces >= 3)
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'faces:2..4 kind:image' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE ((a.faces IS NOT NULL AND a.faces >= 2 AND a.faces <= 4) AND a.kind = 'image')
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'kind:video duration:>60 label:person' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE (a.kind = 'video' AND (a.duration IS NOT NULL AND a.duration > 60.0E0) AND EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'label' AND f.words = 'person'))
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'status:REJECTED reason:CORRUPT' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE (a.status = 'REJECTED' AND COALESCE(a.reason, '') = 'CORRUPT')
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'failed:labels | failed:text' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE (a.failed LIKE '%|labels|%' OR a.failed LIKE '%|text|%')
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'uploaded:2026-11' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE (a.uploaded IS NOT NULL AND a.uploaded >= '2026-11-01T00:00:00' AND a.uploaded < '2026-12-01T00:00:00')
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'uploaded:>=2026-11-20 analyzed:<2026-12' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE ((a.uploaded IS NOT NULL AND a.uploaded >= '2026-11-20T00:00:00') AND (a.analyzed IS NOT NULL AND a.analyzed < '2026-12-01T00:00:00'))
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'taken:2025..2026-06 camera:canon' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE ((a.taken IS NOT NULL AND a.taken >= '2025-01-01T00:00:00' AND a.taken < '2026-07-01T00:00:00') AND (' ' || a.camera || ' ') LIKE '% canon %')
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'near:48.8584,2.2945,2' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE (a.lat IS NOT NULL AND a.lon IS NOT NULL AND 2 * 6371.0088E0 * asin(least(1.0E0, sqrt(sin((radians(a.lat) - radians(48.8584E0)) / 2) * sin((radians(a.lat) - radians(48.8584E0)) / 2) + cos(radians(48.8584E0)) * cos(radians(a.lat)) * (sin(radians(a.lon - 2.2945E0) / 2) * sin(radians(a.lon - 2.2945E0) / 2))))) <= 2.0E0)
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'path:"photos/2026/"' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE substr(a.object_key, 1, 12) = 'photos/2026/'
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'format:jpg | format:heic' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE (a.format = 'JPEG' OR a.format = 'HEIC')
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search '-label:person (dog | cat)' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE (NOT EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'label' AND f.words = 'person') AND (EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind IN ('label', 'text') AND (' ' || f.words || ' ') LIKE '% dog %') OR EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind IN ('label', 'text') AND (' ' || f.words || ' ') LIKE '% cat %')))
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'label:cat confidence:90..100 -moderation:yes' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE (EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'label' AND (f.confidence >= 90.0E0 AND f.confidence <= 100.0E0) AND f.words = 'cat') AND NOT EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'moderation'))
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'review:pending' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'review' AND f.words = 'pending')
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search '-review:no' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE NOT (NOT EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'review'))
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'review:approved|rejected kind:video' --sort path
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE ((EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'review' AND f.words = 'approved') OR EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'review' AND f.words = 'rejected')) AND a.kind = 'video')
ORDER BY a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'label:cat text:"open daily"' --sort confidence
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location, (SELECT max(f.confidence) FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND ((f.kind = 'label' AND f.words = 'cat') OR (f.kind = 'text' AND (' ' || f.words || ' ') LIKE '% open daily %'))) AS best_confidence
FROM "rekflow_dev_search"."assets" AS a
WHERE (EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'label' AND f.words = 'cat') AND EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'text' AND (' ' || f.words || ' ') LIKE '% open daily %'))
ORDER BY best_confidence DESC NULLS LAST, a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'moderation:yes' --sort analyzed
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE EXISTS (SELECT 1 FROM "rekflow_dev_search"."found" AS f WHERE f.doc_id = a.doc_id AND f.kind = 'moderation')
ORDER BY a.analyzed DESC NULLS LAST, a.object_key, a.bucket
LIMIT 20;

-- rekflow search 'faces:>=1' --sort taken
SELECT a.bucket, a.object_key, a.asset_id, a.kind, a.results_location
FROM "rekflow_dev_search"."assets" AS a
WHERE (a.faces IS NOT NULL AND a.faces >= 1)
ORDER BY a.taken DESC NULLS LAST, a.object_key, a.bucket
LIMIT 20;
