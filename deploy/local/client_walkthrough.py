#!/usr/bin/env python3
"""The README's REST walk-through, through a client generated from the OpenAPI document.

deploy/local/client.sh generates the client (openapi-python-client, package `catalog_client`)
from `catalog-api openapi`, starts the API and runs this:

    CATALOG_API_TOKEN=<token> PYTHONPATH=<dir holding catalog_client> \\
        python3 deploy/local/client_walkthrough.py --base-url http://127.0.0.1:8002

Only the generated typed functions and models talk to the API. Every step checks the status
code, that the answer was read into the generated model (`.parsed`), the values it holds, and
that it carries no field the document does not declare. The first failure ends the run with
exit status 1 and says what differed.
"""

import argparse
import os
import secrets
import sys
from http import HTTPStatus
from typing import Any, NoReturn

import attrs
import httpx
from catalog_client import AuthenticatedClient, errors
from catalog_client.api.brands import brands_create
from catalog_client.api.options import options_create
from catalog_client.api.price_tiers import price_tiers_add_rule, price_tiers_create
from catalog_client.api.products import (
    products_create,
    products_delete,
    products_get,
    products_list,
    products_update,
)
from catalog_client.api.variants import variants_price
from catalog_client.models import (
    CreateBrand,
    CreateOption,
    CreatePriceTier,
    CreateProduct,
    CreateRule,
    CreateVariant,
    ErrorEnvelope,
    UpdateProduct,
)
from catalog_client.types import Response, Unset


class WalkthroughFailed(Exception):
    pass


def fail(message: str) -> NoReturn:
    raise WalkthroughFailed(message)


def expect(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


def undeclared_fields(value: Any, where: str) -> None:
    """Fails when an answer carried a field its model does not declare: the generated models
    keep such fields in `additional_properties`. Free-form objects (`metadata`, `attributes`,
    `error.details`) declare no field and are not checked."""
    if attrs.has(type(value)):
        fields = [f.name for f in attrs.fields(type(value)) if f.name != "additional_properties"]
        extra = getattr(value, "additional_properties", {})
        if fields and extra:
            fail(f"{where} carries fields the OpenAPI document does not declare: {sorted(extra)}")
        for name in fields:
            undeclared_fields(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            undeclared_fields(item, f"{where}[{i}]")


class Walkthrough:
    def __init__(self, base_url: str, token: str) -> None:
        self.client = AuthenticatedClient(
            base_url=base_url,
            token=token,
            timeout=httpx.Timeout(30.0),
            # A status the document does not list for the operation is a failure too.
            raise_on_unexpected_status=True,
        )
        self.run = secrets.token_hex(3)
        self.step = ""

    def call(self, step: str, endpoint: Any, expected: HTTPStatus, **kwargs: Any) -> Response[Any]:
        """`endpoint.sync_detailed(**kwargs)`; the status must be `expected` and the answer must
        have been read into its generated model."""
        self.step = step
        try:
            response = endpoint.sync_detailed(client=self.client, **kwargs)
        except httpx.TransportError as exc:
            fail(f"the API did not answer: {type(exc).__name__}: {exc}")
        except errors.UnexpectedStatus as exc:
            fail(f"status {exc.status_code}, which the OpenAPI document does not list: {exc.content[:2000]!r}")
        except Exception as exc:  # noqa: BLE001 (whatever the generated parser raised: it could not read the answer)
            fail(f"the generated client could not read the answer: {type(exc).__name__}: {exc!r}")
        if response.status_code != expected:
            fail(f"expected {int(expected)}, got {int(response.status_code)}: {response.content[:2000]!r}")
        if expected != HTTPStatus.NO_CONTENT:
            expect(
                response.parsed is not None, f"the {int(expected)} answer was not parsed: {response.content[:2000]!r}"
            )
            undeclared_fields(response.parsed, "the answer")
        print(f"    ok  {step} ({int(response.status_code)})")
        return response

    def data(self, response: Response[Any]) -> Any:
        """The success envelope's `data`."""
        parsed = response.parsed
        expect(not isinstance(parsed, ErrorEnvelope), f"expected a success envelope, got {parsed!r}")
        expect(parsed.status.value == "success", f"envelope status {parsed.status!r}")
        expect(parsed.status_code == int(response.status_code), f"envelope statusCode {parsed.status_code}")
        expect(parsed.data is not None and not isinstance(parsed.data, Unset), "the envelope has no data")
        return parsed.data

    def error(self, response: Response[Any], code: str) -> Any:
        parsed = response.parsed
        expect(isinstance(parsed, ErrorEnvelope), f"expected the error envelope, got {parsed!r}")
        expect(parsed.status.value == "error", f"envelope status {parsed.status!r}")
        expect(parsed.error.code == code, f"error code {parsed.error.code!r}, expected {code!r}")
        return parsed.error

    def etag(self, response: Response[Any], version: int) -> str:
        etag = response.headers.get("etag")
        expect(etag == f'"{version}"', f"ETag {etag!r}, expected the version {version} quoted")
        return etag

    def walk(self) -> None:
        run = self.run

        # A brand.
        brand_name = f"Acme {run}"
        r = self.call(
            "create a brand",
            brands_create,
            HTTPStatus.CREATED,
            body=CreateBrand(name=brand_name, website="https://acme.example"),
        )
        brand = self.data(r)
        expect(brand.name == brand_name, f"brand name {brand.name!r}")
        expect(brand.brand_id == brand.id, "brand_id and id differ")
        expect(brand.is_active is True and brand.status.value == "active", "the new brand is not active")
        expect(brand.products_count == 0, f"products_count {brand.products_count!r}")
        expect(brand.description is None, f"description {brand.description!r}")
        self.etag(r, brand.version)

        # An option with its values.
        r = self.call(
            "create the option Color (Rojo, Azul)",
            options_create,
            HTTPStatus.CREATED,
            body=CreateOption(name="Color", values=["Rojo", "Azul"]),
        )
        option = self.data(r)
        expect(option.name == "Color", f"option name {option.name!r}")
        values = {v.value: v.id for v in option.values}
        expect(list(values) == ["Rojo", "Azul"], f"option values {list(values)}")
        expect(all(v.option_id == option.id for v in option.values), "a value of another option")

        # A product with two variants, one per colour, of that brand.
        title, sku = f"Camiseta {run}", f"CAM-{run}".upper()
        r = self.call(
            "create a product with variants",
            products_create,
            HTTPStatus.CREATED,
            body=CreateProduct(
                title=title,
                sku=sku,
                brand_id=str(brand.id),
                has_variants=True,
                option_ids=[str(option.id)],
                variants=[
                    CreateVariant(
                        sku=f"{sku}-ROJO", sale_price="19.90", tax_rate="19", option_value_ids=[str(values["Rojo"])]
                    ),
                    # Money as a JSON number, as the pages send it.
                    CreateVariant(
                        sku=f"{sku}-AZUL", sale_price=21.5, tax_rate=19, option_value_ids=[str(values["Azul"])]
                    ),
                ],
            ),
        )
        product = self.data(r)
        expect(product.name == title and product.title == title, f"product name {product.name!r}")
        expect(product.product_id == product.id, "product_id and id differ")
        expect(product.sku == sku, f"product sku {product.sku!r}")
        expect(product.has_variants is True, "has_variants is not true")
        expect(product.brand is not None and product.brand.brand_id == brand.id, f"brand {product.brand!r}")
        expect(product.brand.name == brand_name, f"embedded brand name {product.brand.name!r}")
        expect(product.option_ids == [option.id], f"option_ids {product.option_ids!r}")
        expect(product.variants_count == 2, f"variants_count {product.variants_count}")
        expect(product.base_price == "19.90", f"base_price {product.base_price!r} (the lowest variant price)")
        by_sku = {v.sku: v for v in product.variants}
        expect(sorted(by_sku) == sorted([f"{sku}-ROJO", f"{sku}-AZUL"]), f"variant SKUs {sorted(by_sku)}")
        red, blue = by_sku[f"{sku}-ROJO"], by_sku[f"{sku}-AZUL"]
        expect(red.sale_price == "19.90" and red.price == "19.90", f"red price {red.sale_price!r}")
        expect(blue.sale_price == "21.50", f"blue price {blue.sale_price!r} (sent as the number 21.5)")
        expect(red.tax_rate == "19.00" and red.tax == "19.00", f"red tax {red.tax_rate!r}")
        expect((red.option_name, red.option_value) == ("Color", "Rojo"), f"red option {red.option_value!r}")
        expect(red.attributes.additional_properties == {"Color": "Rojo"}, f"red attributes {red.attributes!r}")
        expect(red.product_id == product.id, "the variant names another product")
        self.etag(r, product.version)

        # The product list.
        r = self.call("list products (first=10)", products_list, HTTPStatus.OK, first=10)
        page = self.data(r)
        nodes = [edge.node for edge in page.edges]
        expect([n.id for n in nodes] == [product.id], f"listed {[n.name for n in nodes]}")
        expect(nodes[0].name == title and nodes[0].variants_count == 2, f"listed product {nodes[0].name!r}")
        expect(page.edges[0].cursor != "", "an edge without cursor")
        expect(page.page_info.has_next_page is False, "hasNextPage on the only page")
        expect(page.page_info.end_cursor == page.edges[-1].cursor, "endCursor is not the last edge's cursor")
        expect(page.page_info.total_count == 1, f"totalCount {page.page_info.total_count!r}")

        # Read, then rename with If-Match: the ETag read.
        r = self.call("read the product", products_get, HTTPStatus.OK, id=product.id)
        read = self.data(r)
        expect(read.name == title and read.version == product.version, f"read {read.name!r} v{read.version}")
        read_etag = self.etag(r, read.version)
        renamed = f"Camiseta bordada {run}"
        r = self.call(
            "rename it with If-Match: <its ETag>",
            products_update,
            HTTPStatus.OK,
            id=product.id,
            body=UpdateProduct(name=renamed),
            if_match=read_etag,
        )
        updated = self.data(r)
        expect(updated.name == renamed and updated.title == renamed, f"renamed to {updated.name!r}")
        expect(updated.version == read.version + 1, f"version {updated.version} after {read.version}")
        expect(updated.variants_count == 2, f"variants_count {updated.variants_count} after the rename")
        self.etag(r, updated.version)

        # The ETag read before the rename is stale now.
        r = self.call(
            "a stale If-Match is refused",
            products_update,
            HTTPStatus.PRECONDITION_FAILED,
            id=product.id,
            body=UpdateProduct(name=f"Overwritten {run}"),
            if_match=read_etag,
        )
        error = self.error(r, "VERSION_MISMATCH")
        details = error.details.additional_properties
        expect(
            details.get("current_version") == updated.version and details.get("expected_version") == read.version,
            f"412 details {details!r}",
        )
        r = self.call("the stale write changed nothing", products_get, HTTPStatus.OK, id=product.id)
        expect(self.data(r).name == renamed, "the refused write renamed the product")

        # A volume price: a tier, a rule for the red variant from 10 units, a quote for 12.
        tier_name = f"Mayorista {run}"
        r = self.call(
            "create a price tier",
            price_tiers_create,
            HTTPStatus.CREATED,
            body=CreatePriceTier(name=tier_name, priority=0),
        )
        tier = self.data(r)
        expect(tier.name == tier_name and tier.is_active is True, f"tier {tier.name!r} active={tier.is_active}")
        expect(tier.price_tier_id == tier.id and tier.rules_count == 0, f"tier rules_count {tier.rules_count!r}")
        r = self.call(
            "add a rule: from 10 units at 15.00",
            price_tiers_add_rule,
            HTTPStatus.CREATED,
            id=tier.id,
            body=CreateRule(variant_id=str(red.id), min_qty=10, price="15.00"),
        )
        rule = self.data(r)
        expect(rule.variant_id == red.id and rule.min_qty == 10, f"rule {rule.variant_id} from {rule.min_qty}")
        expect(rule.price == "15.00" and rule.price_tier_id == tier.id, f"rule price {rule.price!r}")
        expect(rule.variant is not None and rule.variant.sku == red.sku, f"rule variant {rule.variant!r}")

        r = self.call("price 12 units of the red variant", variants_price, HTTPStatus.OK, id=red.id, quantity="12")
        quote = self.data(r)
        expect(quote.variant_id == red.id and quote.quantity == 12, f"quote for {quote.quantity}")
        expect(quote.price_tier is not None and quote.price_tier.id == tier.id, f"priced by {quote.price_tier!r}")
        expect(quote.applied_rule is not None and quote.applied_rule.rule_id == rule.id, "the rule did not apply")
        expect(quote.sale_price == "19.90", f"sale_price {quote.sale_price!r}")
        got = (quote.unit_price, quote.subtotal, quote.tax_rate, quote.tax_amount, quote.total)
        want = ("15.00", "180.00", "19.00", "34.20", "214.20")
        expect(got == want, f"unit_price, subtotal, tax_rate, tax_amount, total: {got}, expected {want}")
        expect(quote.savings.amount == "58.80", f"savings {quote.savings.amount!r}")
        expect(quote.next_tier is None, f"next_tier {quote.next_tier!r} past the only rule")

        r = self.call("price 5 units (below the rule)", variants_price, HTTPStatus.OK, id=red.id, quantity="5")
        quote = self.data(r)
        expect(quote.unit_price == "19.90" and quote.total == "118.41", f"5 units: {quote.unit_price}, {quote.total}")
        expect(quote.applied_rule is None, f"applied_rule {quote.applied_rule!r} below min_qty")
        expect(quote.next_tier is not None and quote.next_tier.min_qty == 10, f"next_tier {quote.next_tier!r}")
        expect(quote.next_tier.additional_qty_needed == 5, f"{quote.next_tier.additional_qty_needed} more needed")

        # Delete the product with its variants.
        self.call("delete the product (force=true)", products_delete, HTTPStatus.NO_CONTENT, id=product.id, force=True)
        r = self.call("the deleted product is gone", products_get, HTTPStatus.NOT_FOUND, id=product.id)
        self.error(r, "PRODUCT_NOT_FOUND")
        r = self.call("and out of the list", products_list, HTTPStatus.OK, first=10)
        expect(self.data(r).edges == [], "the deleted product is still listed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="the API, e.g. http://127.0.0.1:8002")
    parser.add_argument("--token", default=os.environ.get("CATALOG_API_TOKEN"), help="default: $CATALOG_API_TOKEN")
    args = parser.parse_args()
    if not args.token:
        parser.error("a bearer token is needed (--token or CATALOG_API_TOKEN)")
    walkthrough = Walkthrough(args.base_url, args.token)
    try:
        walkthrough.walk()
    except WalkthroughFailed as failure:
        print(f"error: {walkthrough.step}: {failure}", file=sys.stderr)
        return 1
    print("    the walk-through passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
