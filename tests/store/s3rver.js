// tests/store/s3rver.js - start the S3 test server (npm @20minutes/s3rver,
// installed into tests/store/node_modules by `make deps`) on loopback.
//   node s3rver.js PORT DIRECTORY BUCKET
// Its package ships no bin/ script, so the TAP helpers start it from here.
// It checks SigV4 signatures against the key pair S3RVER/S3RVER.  Run node
// with --openssl-legacy-provider: its continuation tokens use DES.
'use strict';
const path = require('node:path');
const S3rver = require(path.join(__dirname, 'node_modules', '@20minutes', 's3rver'));

const [port, directory, bucket] = process.argv.slice(2);
new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory,
  silent: true,
  configureBuckets: [{ name: bucket }],
}).run().then(
  (addr) => console.log(`s3rver listening on ${addr.address}:${addr.port}`),
  (err) => { console.error(`s3rver: ${err.message}`); process.exit(1); }
);
