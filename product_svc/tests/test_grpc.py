"""The real gRPC server and the shared client over a real channel: lookups, reservations, errors, health."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import grpc
import pytest
from django.conf import settings
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from product_svc.catalog import services
from product_svc.catalog.models import Product, Reservation
from product_svc.catalog.servicer import SERVICE_NAME, ProductServicer
from product_svc.tests.factories import ProductFactory
from shop.product.v1 import product_pb2, product_pb2_grpc
from shopkit.errors import ApplicationError
from shopkit.grpc.products import (
    InsufficientStock,
    InvalidArgument,
    ProductInfo,
    ProductNotFound,
    ProductsClient,
    ProductsServiceUnavailable,
    ProductUnavailable,
    ReservationNotFound,
    ReservationReleased,
    ReservedLine,
)
from shopkit.grpc.server import RunningServer, build_server, method_callers
from shopkit.grpc.tls import TlsFiles, channel_credentials, server_credentials
from shopkit.testing.grpc_tls import GrpcTestPki


def _channel(server: RunningServer, tls: TlsFiles) -> grpc.Channel:
    return grpc.secure_channel(f"127.0.0.1:{server.port}", channel_credentials(tls))


def _stock(product_id: uuid.UUID) -> int:
    return int(Product.objects.values_list("stock", flat=True).get(id=product_id))


def test_get_product_returns_its_current_data(products_grpc: ProductsClient) -> None:
    # given
    product = ProductFactory.create(sku="MUG-1", name="Mug", price=Decimal("9.50"), stock=3)

    # when
    info = products_grpc.get_product(product.id)

    # then
    assert info == ProductInfo(
        id=product.id, sku="MUG-1", name="Mug", price=Decimal("9.50"), currency="USD", stock=3, active=True
    )


def test_get_product_shows_inactive_products_as_inactive(products_grpc: ProductsClient) -> None:
    # given
    product = ProductFactory.create(active=False)

    # when / then
    assert products_grpc.get_product(product.id).active is False


@pytest.mark.parametrize("product_id", [uuid.uuid4(), "not-a-uuid"])
def test_get_unknown_product_raises_product_not_found(products_grpc: ProductsClient, product_id: Any) -> None:
    # when
    with pytest.raises(ProductNotFound) as raised:
        products_grpc.get_product(product_id)

    # then
    assert raised.value.status == 404
    assert raised.value.extra == {"product_id": str(product_id)}


def test_get_products_returns_known_ones_and_skips_unknown(products_grpc: ProductsClient) -> None:
    # given
    first, second = ProductFactory.create(), ProductFactory.create()

    # when
    found = products_grpc.get_products([first.id, uuid.uuid4(), second.id, "junk", first.id])

    # then
    assert set(found) == {first.id, second.id}
    assert found[second.id].name == second.name


def test_reserve_and_release_over_grpc(products_grpc: ProductsClient) -> None:
    # given
    mug = ProductFactory.create(name="Mug", price=Decimal("9.50"), stock=5)
    order_id = uuid.uuid4()

    # when
    reserved = products_grpc.reserve_stock(order_id, [(mug.id, 2)])
    replayed = products_grpc.reserve_stock(order_id, [(mug.id, 2)])
    stock_while_held = _stock(mug.id)
    released = products_grpc.release_stock(order_id)
    released_again = products_grpc.release_stock(order_id)

    # then
    expected = [ReservedLine(product_id=mug.id, quantity=2, unit_price=Decimal("9.50"), currency="USD", name="Mug")]
    assert reserved == replayed == expected
    assert stock_while_held == 3
    assert (released, released_again) == (True, False)
    assert _stock(mug.id) == 5
    assert Reservation.objects.get(order_id=order_id).status == Reservation.Status.RELEASED


def test_confirm_reservation_over_grpc_and_its_refusals(products_grpc: ProductsClient) -> None:
    # given
    product = ProductFactory.create(stock=5)
    confirmed_order, released_order = uuid.uuid4(), uuid.uuid4()
    products_grpc.reserve_stock(confirmed_order, [(product.id, 2)])
    products_grpc.reserve_stock(released_order, [(product.id, 1)])
    products_grpc.release_stock(released_order)

    # when / then
    assert products_grpc.confirm_reservation(confirmed_order) is True
    assert products_grpc.confirm_reservation(confirmed_order) is False
    assert Reservation.objects.get(order_id=confirmed_order).status == Reservation.Status.CONFIRMED
    with pytest.raises(ReservationReleased) as released:
        products_grpc.confirm_reservation(released_order)
    assert released.value.extra == {"order_id": str(released_order)}
    unknown = uuid.uuid4()
    with pytest.raises(ReservationNotFound) as not_found:
        products_grpc.confirm_reservation(unknown)
    assert not_found.value.extra == {"order_id": str(unknown)}
    with pytest.raises(InvalidArgument):
        products_grpc.confirm_reservation("not-a-uuid")
    assert _stock(product.id) == 3


def test_insufficient_stock_comes_back_with_product_and_available(products_grpc: ProductsClient) -> None:
    # given
    plenty, scarce = ProductFactory.create(stock=9), ProductFactory.create(stock=1)

    # when
    with pytest.raises(InsufficientStock) as raised:
        products_grpc.reserve_stock(uuid.uuid4(), [(plenty.id, 1), (scarce.id, 3)])

    # then
    error = raised.value
    assert (error.status, error.product_id, error.available) == (409, scarce.id, 1)
    assert error.extra == {"product_id": str(scarce.id), "available": 1}
    assert (_stock(plenty.id), _stock(scarce.id)) == (9, 1)
    assert not Reservation.objects.exists()


def test_inactive_product_comes_back_as_product_unavailable(products_grpc: ProductsClient) -> None:
    # given
    retired = ProductFactory.create(active=False)

    # when
    with pytest.raises(ProductUnavailable) as raised:
        products_grpc.reserve_stock(uuid.uuid4(), [(retired.id, 1)])

    # then
    assert (raised.value.status, raised.value.extra) == (409, {"product_id": str(retired.id)})


def test_reserving_an_unknown_product_is_product_not_found(products_grpc: ProductsClient) -> None:
    # given
    unknown = uuid.uuid4()

    # when
    with pytest.raises(ProductNotFound) as raised:
        products_grpc.reserve_stock(uuid.uuid4(), [(unknown, 1)])

    # then
    assert raised.value.extra == {"product_id": str(unknown)}


@pytest.mark.parametrize(
    ("order_id", "lines"),
    [
        ("not-a-uuid", [(uuid.uuid4(), 1)]),
        (uuid.uuid4(), []),
        (uuid.uuid4(), [("junk", 1)]),
        (uuid.uuid4(), [(uuid.uuid4(), 0)]),
    ],
)
def test_malformed_reservations_are_invalid_argument(products_grpc: ProductsClient, order_id: Any, lines: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        products_grpc.reserve_stock(order_id, lines)
    assert raised.value.status == 400


def test_statuses_and_trailing_metadata_on_the_wire(
    grpc_server: RunningServer, transactional_db: None, grpc_pki: GrpcTestPki
) -> None:
    # given: a raw stub, as a client in another language would see the server
    scarce = ProductFactory.create(stock=1)
    with _channel(grpc_server, grpc_pki.identity("orders")) as channel:
        stub = product_pb2_grpc.ProductServiceStub(channel)
        request = product_pb2.ReserveStockRequest(
            order_id=str(uuid.uuid4()), lines=[product_pb2.ReservationLine(product_id=str(scarce.id), quantity=2)]
        )

        # when
        with pytest.raises(grpc.RpcError) as raised:
            stub.ReserveStock(request, timeout=2)

    # then
    error: Any = raised.value
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert dict(error.trailing_metadata()) == {
        "shop-error-code": "insufficient-stock",
        "shop-error-product-id": str(scarce.id),
        "shop-error-available": "1",
    }


def test_server_metrics_count_calls_by_status(products_grpc: ProductsClient) -> None:
    # given
    labels = {"grpc_service": SERVICE_NAME, "grpc_method": "GetProduct", "grpc_code": "NOT_FOUND"}
    before = REGISTRY.get_sample_value("shop_grpc_server_handled_total", labels) or 0.0

    # when
    with pytest.raises(ProductNotFound):
        products_grpc.get_product(uuid.uuid4())

    # then
    assert REGISTRY.get_sample_value("shop_grpc_server_handled_total", labels) == before + 1
    assert REGISTRY.get_sample_value("shop_grpc_client_handled_total", labels) is not None


def test_health_reports_serving_for_the_server_and_the_service(
    grpc_server: RunningServer, grpc_pki: GrpcTestPki
) -> None:
    # given
    with _channel(grpc_server, grpc_pki.identity("carts")) as channel:
        stub = health_pb2_grpc.HealthStub(channel)

        # when
        overall = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
        products = stub.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=2)

    # then
    assert overall.status == products.status == health_pb2.HealthCheckResponse.SERVING


class _SlowServicer(ProductServicer):
    def GetProduct(self, request: Any, context: grpc.ServicerContext) -> product_pb2.Product:
        time.sleep(1.0)
        return product_pb2.Product(id=request.id)


def test_a_slow_server_fails_fast_as_service_unavailable(db: None, grpc_pki: GrpcTestPki) -> None:
    # given: a server that answers only after the caller's deadline
    slow = build_server(
        register=lambda server: product_pb2_grpc.add_ProductServiceServicer_to_server(_SlowServicer(), server),
        service_names=[SERVICE_NAME],
        bind="127.0.0.1",
        port=0,
        credentials=server_credentials(grpc_pki.identity("products")),
        callers=method_callers(SERVICE_NAME, settings.PRODUCTS_GRPC_CALLERS),
        max_workers=2,
        django_db=False,
    )
    client = ProductsClient(f"127.0.0.1:{slow.port}", deadline_seconds=0.3)
    started = time.monotonic()

    # when
    try:
        with pytest.raises(ProductsServiceUnavailable) as raised:
            client.get_product(uuid.uuid4())
    finally:
        client.close()
        slow.stop(grace_seconds=0)

    # then: within the one overall deadline, retries included
    assert time.monotonic() - started < 0.9
    assert raised.value.status == 503


def test_an_unreachable_server_fails_fast_as_service_unavailable(db: None) -> None:
    # given: nothing listens on the target
    client = ProductsClient("127.0.0.1:1", deadline_seconds=0.5)
    started = time.monotonic()

    # when
    try:
        with pytest.raises(ProductsServiceUnavailable):
            client.reserve_stock(uuid.uuid4(), [(uuid.uuid4(), 1)])
        with pytest.raises(ProductsServiceUnavailable):
            client.get_product(uuid.uuid4())
    finally:
        client.close()

    # then
    assert time.monotonic() - started < 1.5


def _refusal_fields(error: ApplicationError) -> tuple[Any, ...]:
    return (
        type(error),
        error.status,
        error.code,
        error.detail,
        error.extra,
        getattr(error, "product_id", None),
        getattr(error, "available", None),
        getattr(error, "order_id", None),
    )


@pytest.mark.parametrize("refusal", ["insufficient-stock", "product-unavailable", "product-not-found", "released"])
def test_a_refusal_reaches_the_client_as_the_error_the_catalog_raised(
    products_grpc: ProductsClient, refusal: str
) -> None:
    # given: one refused call, made once in-process (the catalog's own error) and once over gRPC
    scarce, retired = ProductFactory.create(stock=1), ProductFactory.create(active=False)
    order_id = uuid.uuid4()
    line = {
        "insufficient-stock": (scarce.id, 2),
        "product-unavailable": (retired.id, 1),
        "product-not-found": (uuid.uuid4(), 1),
        "released": (scarce.id, 1),
    }[refusal]
    if refusal == "released":
        services.stock_reserve(order_id=order_id, lines=[line])
        services.stock_release(order_id=order_id)

        def call_in_process() -> None:
            services.stock_confirm(order_id=order_id)

        def call_over_grpc() -> None:
            products_grpc.confirm_reservation(order_id)
    else:

        def call_in_process() -> None:
            services.stock_reserve(order_id=order_id, lines=[line])

        def call_over_grpc() -> None:
            products_grpc.reserve_stock(order_id, [line])

    with pytest.raises(ApplicationError) as in_process:
        call_in_process()

    # when
    with pytest.raises(ApplicationError) as over_grpc:
        call_over_grpc()

    # then: the same class with the same fields, typed (UUIDs, ints) on both sides
    assert _refusal_fields(over_grpc.value) == _refusal_fields(in_process.value)
