//! Per-user request budgets by kind of operation (design pages 09–22): reads 100, writes 20,
//! price calculations 200 and uploads 10 per minute by default, each configurable
//! (`API_RATE_LIMIT_{READ,WRITE,PRICE,UPLOAD}_PER_MINUTE`). Every request also counts against the
//! overall budget (`API_RATE_LIMIT_PER_MINUTE`, a ceiling over the kinds together).
//! `API_RATE_LIMIT_ENABLED=false` turns all of them off. Budgets are per replica, in memory.

use crate::routes::transfer::IMPORTS_PATH;
use actix_web::http::Method;
use catalog_core::config::ApiSettings;
use catalog_core::error::Error;
use catalog_core::ids::UserId;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
    /// `GET /variants/{id}/price` and its alias `/calculate-price`.
    Price,
    /// An image added to a product or variant, a file posted to `/imports`.
    Upload,
}

impl Kind {
    /// The one place a request's kind is decided: by method, then the price and upload routes.
    pub fn of(method: &Method, path: &str) -> Self {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        // ["", "api", "v1", resource, id, action]
        let action = match segments.as_slice() {
            ["", "api", "v1", resource, _, action] => Some((*resource, *action)),
            _ => None,
        };
        match *method {
            Method::GET | Method::HEAD => match action {
                Some(("variants", "price" | "calculate-price")) => Kind::Price,
                _ => Kind::Read,
            },
            // A preflight never reaches here (CORS answers it), but it changes nothing either.
            Method::OPTIONS => Kind::Read,
            Method::POST if path.trim_end_matches('/') == IMPORTS_PATH => Kind::Upload,
            Method::POST if matches!(action, Some(("products" | "variants", "images"))) => Kind::Upload,
            _ => Kind::Write,
        }
    }
}

pub struct RateLimits {
    enabled: bool,
    overall: DefaultKeyedRateLimiter<UserId>,
    read: DefaultKeyedRateLimiter<UserId>,
    write: DefaultKeyedRateLimiter<UserId>,
    price: DefaultKeyedRateLimiter<UserId>,
    upload: DefaultKeyedRateLimiter<UserId>,
}

fn per_minute(n: u32) -> DefaultKeyedRateLimiter<UserId> {
    RateLimiter::keyed(Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)))
}

impl RateLimits {
    pub fn new(api: &ApiSettings) -> Self {
        Self {
            enabled: api.rate_limit_enabled,
            overall: per_minute(api.rate_limit_per_minute),
            read: per_minute(api.rate_limit_read_per_minute),
            write: per_minute(api.rate_limit_write_per_minute),
            price: per_minute(api.rate_limit_price_per_minute),
            upload: per_minute(api.rate_limit_upload_per_minute),
        }
    }

    /// Takes one request from the kind's budget, then from the overall one; `RateLimited` with
    /// the wait (Retry-After) when either is spent.
    pub fn check(&self, user: &UserId, kind: Kind) -> Result<(), Error> {
        if !self.enabled {
            return Ok(());
        }
        let limiter = match kind {
            Kind::Read => &self.read,
            Kind::Write => &self.write,
            Kind::Price => &self.price,
            Kind::Upload => &self.upload,
        };
        limiter.check_key(user).and_then(|()| self.overall.check_key(user)).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Error::RateLimited { retry_after_secs: wait.as_secs().max(1) }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_method_and_route() {
        let cases = [
            (Method::GET, "/api/v1/products", Kind::Read),
            (Method::GET, "/api/v1/variants/abc", Kind::Read),
            (Method::GET, "/api/v1/variants/abc/price", Kind::Price),
            (Method::GET, "/api/v1/variants/abc/calculate-price", Kind::Price),
            (Method::GET, "/api/v1/products/abc/price", Kind::Read),
            (Method::POST, "/api/v1/products", Kind::Write),
            (Method::PATCH, "/api/v1/products/abc", Kind::Write),
            (Method::DELETE, "/api/v1/products/abc/images/def", Kind::Write),
            (Method::PUT, "/api/v1/products/abc/images/reorder", Kind::Write),
            (Method::POST, "/api/v1/products/abc/images", Kind::Upload),
            (Method::POST, "/api/v1/variants/abc/images/", Kind::Upload),
            (Method::POST, "/api/v1/imports", Kind::Upload),
            (Method::GET, "/api/v1/imports", Kind::Read),
            (Method::POST, "/api/v1/products/bulk", Kind::Write),
        ];
        for (method, path, kind) in cases {
            assert_eq!(Kind::of(&method, path), kind, "{method} {path}");
        }
    }
}
