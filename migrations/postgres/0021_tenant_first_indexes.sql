-- The survey's two look-ups lead with the tenant and cover what they read (issue 21,
-- docs/benchmarks.md "Survey across municipalities"). Each city's orders and reports lie
-- scattered over the whole table when 455 cities write day by day, so a city's survey read
-- some 36,000 heap pages through `orders(date)` and `reports(order_id, …)`; from these it
-- reads its own index entries only. They replace the two indexes they supersede, so a report
-- costs the same number of index writes as before. Every query runs under the row-level
-- security policy (`tenant = …`), which a tenant-first index serves. SQLite is single-tenant
-- and keeps 0003's covering index.
DROP INDEX orders_date;
CREATE INDEX orders_tenant_date ON orders (tenant, date)
    INCLUDE (status, start_min, end_min, leave_spans, employee_id, id);
DROP INDEX reports_order_kind;
CREATE INDEX reports_tenant_order ON reports (tenant, order_id)
    INCLUDE (kind, reason, day, received_at) WHERE order_id IS NOT NULL;
