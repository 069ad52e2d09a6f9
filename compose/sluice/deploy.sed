# What the compose stack changes in a connector of connectors/ before registering it (sed -f):
# the shipped files name local services (127.0.0.1) and take secrets from the environment; in
# the stack the services have their compose names and secrets are files under /run/secrets.
# tests/deploy_files.rs applies this file too and parses the result as the worker would.
s#//127\.0\.0\.1:5432/#//target-db:5432/#g
s#http://127\.0\.0\.1:8081#http://schema-registry:8081#g
s#\${env:SLUICE_PG_PASSWORD}#${directory:/run/secrets:target-db-password}#g
