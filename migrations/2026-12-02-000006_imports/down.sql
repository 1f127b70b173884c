DROP TABLE import_results;
DROP TABLE import_rows;
DROP TABLE import_jobs;
