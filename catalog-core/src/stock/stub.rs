//! A stand-in for the Inventory Service (another team's system) in tests: a real gRPC server
//! on `127.0.0.1:<free port>` implementing `proto/inventory.proto` as its page describes —
//! `GetStockInfo` (every warehouse of a variant, `stock_status` from `min_stock`) and
//! `CheckBulkAvailability` (available over all warehouses when none is named). The reservation
//! calls, which the catalog never makes, answer UNIMPLEMENTED. Stops when dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::inventory::pb::inventory_service_server::{InventoryService, InventoryServiceServer};
use super::inventory::pb::*;
use crate::ids::{OrganizationId, VariantId};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tonic::{Request, Response, Status};
use uuid::Uuid;

#[derive(Default)]
struct State {
    stock: Mutex<HashMap<(String, String), Vec<StockInfo>>>,
    bulk_calls: AtomicU64,
    info_calls: AtomicU64,
    fail_next: AtomicU32,
}

impl State {
    fn check(&self) -> Result<(), Status> {
        let failing = self.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if failing { Err(Status::unavailable("inventory stub: induced failure")) } else { Ok(()) }
    }

    fn of(&self, org: &str, variant: &str) -> Vec<StockInfo> {
        self.stock.lock().unwrap().get(&(org.to_string(), variant.to_string())).cloned().unwrap_or_default()
    }
}

struct Service(Arc<State>);

#[tonic::async_trait]
impl InventoryService for Service {
    async fn check_availability(
        &self,
        _: Request<CheckAvailabilityRequest>,
    ) -> Result<Response<CheckAvailabilityResponse>, Status> {
        Err(Status::unimplemented("not used by the catalog"))
    }

    async fn check_bulk_availability(
        &self,
        request: Request<CheckBulkAvailabilityRequest>,
    ) -> Result<Response<CheckBulkAvailabilityResponse>, Status> {
        self.0.bulk_calls.fetch_add(1, Ordering::SeqCst);
        self.0.check()?;
        let request = request.into_inner();
        let results: Vec<AvailabilityResult> = request
            .items
            .iter()
            .map(|item| {
                let stock = self.0.of(&request.organization_id, &item.variant_id);
                let in_warehouse =
                    |info: &&StockInfo| item.warehouse_id.is_empty() || info.warehouse_id == item.warehouse_id;
                let available: i32 = stock.iter().filter(in_warehouse).map(|info| info.available_quantity).sum();
                AvailabilityResult {
                    variant_id: item.variant_id.clone(),
                    warehouse_id: item.warehouse_id.clone(),
                    available: available >= item.quantity,
                    available_quantity: available,
                    requested_quantity: item.quantity,
                    message: if stock.is_empty() { "Stock not found".into() } else { "Available".into() },
                }
            })
            .collect();
        let all_available = results.iter().all(|result| result.available);
        Ok(Response::new(CheckBulkAvailabilityResponse { all_available, results }))
    }

    async fn reserve_stock(&self, _: Request<ReserveStockRequest>) -> Result<Response<ReserveStockResponse>, Status> {
        Err(Status::unimplemented("not used by the catalog"))
    }

    async fn confirm_reservation(
        &self,
        _: Request<ConfirmReservationRequest>,
    ) -> Result<Response<ConfirmReservationResponse>, Status> {
        Err(Status::unimplemented("not used by the catalog"))
    }

    async fn release_reservation(
        &self,
        _: Request<ReleaseReservationRequest>,
    ) -> Result<Response<ReleaseReservationResponse>, Status> {
        Err(Status::unimplemented("not used by the catalog"))
    }

    async fn get_stock_info(
        &self,
        request: Request<GetStockInfoRequest>,
    ) -> Result<Response<GetStockInfoResponse>, Status> {
        self.0.info_calls.fetch_add(1, Ordering::SeqCst);
        self.0.check()?;
        let request = request.into_inner();
        let stock_info = self
            .0
            .of(&request.organization_id, &request.variant_id)
            .into_iter()
            .filter(|info| request.warehouse_id.is_empty() || info.warehouse_id == request.warehouse_id)
            .collect();
        Ok(Response::new(GetStockInfoResponse { stock_info }))
    }
}

pub struct InventoryStub {
    addr: SocketAddr,
    state: Arc<State>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl InventoryStub {
    /// Starts the server; it is accepting connections when this returns.
    pub async fn start() -> Self {
        let state = Arc::new(State::default());
        let routes = tonic::service::Routes::new(InventoryServiceServer::new(Service(state.clone())));
        let (addr, shutdown) = crate::testing::serve_grpc(routes).await;
        Self { addr, state, _shutdown: shutdown }
    }

    /// `INVENTORY_GRPC_HOST` and `INVENTORY_GRPC_PORT` pointing at this stub.
    pub fn settings_env(&self) -> Vec<(String, String)> {
        vec![
            ("INVENTORY_GRPC_HOST".into(), self.addr.ip().to_string()),
            ("INVENTORY_GRPC_PORT".into(), self.addr.port().to_string()),
        ]
    }

    /// Inventory holds `total` of `variant` in `warehouse`, `reserved` of it reserved and
    /// `damaged` damaged (the rest available), replacing what it held there.
    pub fn set_stock(
        &self,
        org: OrganizationId,
        variant: VariantId,
        warehouse: Uuid,
        (total, reserved, damaged): (i32, i32, i32),
    ) {
        let available = total - reserved - damaged;
        let info = StockInfo {
            stock_id: Uuid::now_v7().to_string(),
            variant_id: variant.to_string(),
            warehouse_id: warehouse.to_string(),
            warehouse_name: format!("Warehouse {}", &warehouse.to_string()[..8]),
            total_quantity: total,
            available_quantity: available,
            reserved_quantity: reserved,
            damaged_quantity: damaged,
            in_transit_quantity: 0,
            min_stock: 10,
            max_stock: 1000,
            stock_status: match available {
                0 => "out_of_stock",
                n if n <= 10 => "low_stock",
                _ => "in_stock",
            }
            .into(),
        };
        let mut stock = self.state.stock.lock().unwrap();
        let rows = stock.entry((org.to_string(), variant.to_string())).or_default();
        rows.retain(|row| row.warehouse_id != info.warehouse_id);
        rows.push(info);
    }

    /// Inventory no longer holds `variant` in `warehouse`.
    pub fn remove_stock(&self, org: OrganizationId, variant: VariantId, warehouse: Uuid) {
        let mut stock = self.state.stock.lock().unwrap();
        if let Some(rows) = stock.get_mut(&(org.to_string(), variant.to_string())) {
            rows.retain(|row| row.warehouse_id != warehouse.to_string());
        }
    }

    /// (CheckBulkAvailability, GetStockInfo) calls received so far.
    pub fn calls(&self) -> (u64, u64) {
        (self.state.bulk_calls.load(Ordering::SeqCst), self.state.info_calls.load(Ordering::SeqCst))
    }

    /// The next `n` calls answer UNAVAILABLE.
    pub fn fail_next(&self, n: u32) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }
}
