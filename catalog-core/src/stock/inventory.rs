//! A client of the Inventory Service's gRPC server (`proto/inventory.proto`, its team's page
//! `peers/inventory-service_07-grpc-server.md`), for the two calls the stock resync needs:
//! `CheckBulkAvailability` (a batch of variants' available quantities, one call) and
//! `GetStockInfo` (one variant's every warehouse). Calls are bounded by
//! `INVENTORY_GRPC_TIMEOUT`, transient failures retried (`INVENTORY_GRPC_RETRIES`) and guarded by
//! a circuit breaker (`CIRCUIT_BREAKER_*`), like the Auth client.

use super::{Quantities, Report};
use crate::breaker::{Outcome, PeerCalls};
use crate::config::{AuthSettings, InventorySettings};
use crate::error::{Error, Result};
use crate::ids::{OrganizationId, VariantId};
use crate::telemetry;
use pb::inventory_service_client::InventoryServiceClient;
use pb::{AvailabilityItem, CheckBulkAvailabilityRequest, GetStockInfoRequest};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::time::Duration;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument;

/// Code generated from `proto/inventory.proto` (owned by the Inventory team).
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    tonic::include_proto!("inventory.v1");
}

pub struct InventoryClient {
    client: InventoryServiceClient<Channel>,
    calls: PeerCalls,
    host: String,
    port: u16,
}

impl InventoryClient {
    /// Connects lazily (a worker starts while Inventory is down). `None` when no Inventory is
    /// configured (`INVENTORY_GRPC_HOST` empty). Must be called inside a Tokio runtime.
    pub fn new(settings: &InventorySettings, breaker: &AuthSettings) -> Result<Option<Self>> {
        if !settings.configured() {
            return Ok(None);
        }
        let timeout = Duration::from_secs(settings.grpc_timeout_secs.max(1));
        let url = format!("http://{}:{}", settings.grpc_host.trim(), settings.grpc_port);
        let endpoint = Endpoint::from_shared(url).map_err(|e| Error::InvalidArgument {
            field: "INVENTORY_GRPC_HOST",
            message: format!("not a usable host: {e}"),
        })?;
        let channel = endpoint.connect_timeout(timeout).tcp_nodelay(true).connect_lazy();
        let calls = PeerCalls::new("inventory service", timeout, settings.grpc_retries, Duration::from_millis(50))
            .with_breaker(breaker.breaker_failure_threshold, Duration::from_secs(breaker.breaker_recovery_secs));
        Ok(Some(Self {
            client: InventoryServiceClient::new(channel),
            calls,
            host: settings.grpc_host.trim().to_string(),
            port: settings.grpc_port,
        }))
    }

    /// Each variant's available quantity over all its warehouses, in one call (no warehouse
    /// named: Inventory checks them all). A variant Inventory has no stock for is 0.
    pub async fn available(&self, org: OrganizationId, variants: &[VariantId]) -> Result<HashMap<VariantId, Decimal>> {
        let request = CheckBulkAvailabilityRequest {
            organization_id: org.to_string(),
            items: variants
                .iter()
                .map(|variant| AvailabilityItem {
                    variant_id: variant.to_string(),
                    warehouse_id: String::new(),
                    quantity: 0,
                })
                .collect(),
        };
        let response = self
            .calls
            .call(|| {
                let (mut client, call) = self.attempt(&request);
                async move {
                    match client.check_bulk_availability(call).await {
                        Ok(response) => Outcome::Answered(response.into_inner()),
                        Err(status) => Outcome::of_status(&status),
                    }
                }
            })
            .instrument(self.span("CheckBulkAvailability"))
            .await?;
        let mut available: HashMap<VariantId, Decimal> = variants.iter().map(|v| (*v, Decimal::ZERO)).collect();
        for result in response.results {
            let Ok(variant) = result.variant_id.parse::<VariantId>() else { continue };
            if let Some(quantity) = available.get_mut(&variant) {
                *quantity += Decimal::from(result.available_quantity.max(0));
            }
        }
        Ok(available)
    }

    /// Every warehouse's stock of `variant` (none: Inventory has no stock of it).
    pub async fn stock_info(&self, org: OrganizationId, variant: VariantId) -> Result<Vec<Report>> {
        let request = GetStockInfoRequest {
            organization_id: org.to_string(),
            variant_id: variant.to_string(),
            warehouse_id: String::new(),
        };
        let response = self
            .calls
            .call(|| {
                let (mut client, call) = self.attempt(&request);
                async move {
                    match client.get_stock_info(call).await {
                        Ok(response) => Outcome::Answered(response.into_inner().stock_info),
                        // The page's NOT_FOUND: no stock of the variant anywhere.
                        Err(status) if status.code() == Code::NotFound => Outcome::Answered(Vec::new()),
                        Err(status) => Outcome::of_status(&status),
                    }
                }
            })
            .instrument(self.span("GetStockInfo"))
            .await?;
        Ok(response
            .into_iter()
            .filter_map(|info| {
                let warehouse = info.warehouse_id.parse().ok();
                if warehouse.is_none() {
                    tracing::warn!(warehouse = %info.warehouse_id, "ignoring Inventory stock with a warehouse id that is not a UUID");
                }
                let quantity = |n: i32| Decimal::from(n.max(0));
                Some(Report {
                    warehouse: warehouse?,
                    warehouse_name: Some(info.warehouse_name).filter(|name| !name.trim().is_empty()),
                    quantities: Quantities {
                        total: quantity(info.total_quantity),
                        available: quantity(info.available_quantity),
                        reserved: quantity(info.reserved_quantity),
                        damaged: quantity(info.damaged_quantity),
                        in_transit: Some(quantity(info.in_transit_quantity)),
                    },
                })
            })
            .collect())
    }

    /// A client and the request of one attempt, bounded by the call timeout.
    fn attempt<T: Clone>(&self, message: &T) -> (InventoryServiceClient<Channel>, tonic::Request<T>) {
        let mut request = tonic::Request::new(message.clone());
        request.set_timeout(self.calls.timeout);
        telemetry::inject_metadata(request.metadata_mut());
        (self.client.clone(), request)
    }

    fn span(&self, method: &'static str) -> tracing::Span {
        telemetry::rpc_client_span("inventory.v1.InventoryService", method, &self.host, self.port)
    }

    /// Whether the circuit to Inventory is open (calls fail fast).
    pub fn circuit_open(&self) -> bool {
        self.calls.breaker.is_open()
    }
}
