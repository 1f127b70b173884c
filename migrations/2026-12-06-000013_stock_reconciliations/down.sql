DROP TABLE stock_reconciliations;
DROP INDEX variant_stock_newest_report;
