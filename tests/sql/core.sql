-- Core functions: version, build info, per-connection configuration.
SELECT imgpca_version() = '0.1.0';
SELECT json_valid(imgpca_build_info()), json_extract(imgpca_build_info(), '$.sqlite') = sqlite_version();
SELECT json_extract(imgpca_build_info(), '$.libjpeg_turbo') LIKE '2.%', json_extract(imgpca_build_info(), '$.openblas') LIKE 'OpenBLAS%';
SELECT imgpca_config('s3.max_inflight');
SELECT imgpca_config('s3.max_inflight', 8), imgpca_config('s3.max_inflight');
SELECT json_extract(imgpca_config(), '$."s3.max_inflight".source');
SELECT imgpca_config('s3.max_inflight', NULL);
SELECT imgpca_config('s3.secret_access_key', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
SELECT instr(imgpca_config(), 'wJalrXUtnFEMI') = 0, json_extract(imgpca_config(), '$."s3.secret_access_key".value');
SELECT imgpca_config('s3.url_style', 'sideways');
SELECT imgpca_config('s3.max_inflight', 'many');
SELECT imgpca_config('no.such.key');
SELECT imgpca_config(1);
