"""Who may call products over gRPC: mutual TLS with the stack's CA, then per-method authorization."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from django.conf import settings
from prometheus_client import REGISTRY

from product_svc.catalog.models import Product, Reservation
from product_svc.catalog.servicer import SERVICE_NAME
from product_svc.tests.factories import ProductFactory
from shop.product.v1 import product_pb2, product_pb2_grpc
from shopkit.grpc.products import ProductsClient, ProductsServiceUnavailable
from shopkit.grpc.server import RunningServer
from shopkit.grpc.tls import TlsFiles, channel_credentials
from shopkit.testing.fake_products import CALLERS, start_fake_products
from shopkit.testing.grpc_tls import GrpcTestPki

Stub = product_pb2_grpc.ProductServiceStub


def _stub(server: RunningServer, credentials: grpc.ChannelCredentials) -> tuple[grpc.Channel, Stub]:
    channel = grpc.secure_channel(f"127.0.0.1:{server.port}", credentials)
    return channel, Stub(channel)


def _as(server: RunningServer, tls: TlsFiles) -> tuple[grpc.Channel, Stub]:
    return _stub(server, channel_credentials(tls))


def _reserve(stub: Stub, product: Product, order_id: uuid.UUID) -> Any:
    request = product_pb2.ReserveStockRequest(
        order_id=str(order_id), lines=[product_pb2.ReservationLine(product_id=str(product.id), quantity=1)]
    )
    return stub.ReserveStock(request, timeout=2)


def _held(product: Product) -> int:
    return Reservation.objects.filter(lines__product=product).count()


def test_a_caller_without_a_client_certificate_is_refused(
    grpc_server: RunningServer, transactional_db: None, grpc_pki: GrpcTestPki
) -> None:
    # given: TLS that trusts the stack's CA but presents no certificate of its own
    product = ProductFactory.create(stock=5)
    ca = grpc_pki.identity("orders").ca.read_bytes()
    channel, stub = _stub(grpc_server, grpc.ssl_channel_credentials(root_certificates=ca))

    # when
    with channel, pytest.raises(grpc.RpcError) as raised:
        _reserve(stub, product, uuid.uuid4())

    # then: the handshake fails; nothing reached the servicer
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert _held(product) == 0


def test_a_plaintext_caller_is_refused(grpc_server: RunningServer, transactional_db: None) -> None:
    # given
    product = ProductFactory.create(stock=5)
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_server.port}")

    # when
    with channel, pytest.raises(grpc.RpcError) as raised:
        _reserve(Stub(channel), product, uuid.uuid4())

    # then
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert _held(product) == 0


def test_a_certificate_from_another_ca_is_refused_even_with_an_allowed_name(
    grpc_server: RunningServer, transactional_db: None, grpc_pki: GrpcTestPki
) -> None:
    # given: "orders" (allowed to reserve), but signed by a CA the server does not trust
    product = ProductFactory.create(stock=5)
    channel, stub = _as(grpc_server, grpc_pki.foreign("orders"))

    # when
    with channel, pytest.raises(grpc.RpcError) as raised:
        _reserve(stub, product, uuid.uuid4())

    # then
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert _held(product) == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda stub, product: _reserve(stub, product, uuid.uuid4()),
        lambda stub, product: stub.ReleaseStock(product_pb2.ReleaseStockRequest(order_id=str(uuid.uuid4())), timeout=2),
        lambda stub, product: stub.ConfirmReservation(
            product_pb2.ConfirmReservationRequest(order_id=str(uuid.uuid4())), timeout=2
        ),
    ],
    ids=["ReserveStock", "ReleaseStock", "ConfirmReservation"],
)
def test_carts_may_not_move_stock(
    grpc_server: RunningServer,
    transactional_db: None,
    grpc_pki: GrpcTestPki,
    call: Callable[[Stub, Product], Any],
) -> None:
    # given
    product = ProductFactory.create(stock=5)
    channel, stub = _as(grpc_server, grpc_pki.identity("carts"))

    # when
    with channel, pytest.raises(grpc.RpcError) as raised:
        call(stub, product)

    # then
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _held(product) == 0


def test_carts_may_read_products(grpc_server: RunningServer, transactional_db: None, grpc_pki: GrpcTestPki) -> None:
    # given
    product = ProductFactory.create(name="Mug", stock=5)
    channel, stub = _as(grpc_server, grpc_pki.identity("carts"))

    # when
    with channel:
        one = stub.GetProduct(product_pb2.GetProductRequest(id=str(product.id)), timeout=2)
        many = stub.GetProducts(product_pb2.GetProductsRequest(ids=[str(product.id)]), timeout=2)

    # then
    assert (one.name, [found.id for found in many.products]) == ("Mug", [str(product.id)])


def test_orders_may_reserve_release_and_confirm(
    grpc_server: RunningServer, transactional_db: None, grpc_pki: GrpcTestPki
) -> None:
    # given
    product = ProductFactory.create(stock=5)
    released_order, confirmed_order = uuid.uuid4(), uuid.uuid4()
    channel, stub = _as(grpc_server, grpc_pki.identity("orders"))

    # when
    with channel:
        _reserve(stub, product, released_order)
        _reserve(stub, product, confirmed_order)
        released = stub.ReleaseStock(product_pb2.ReleaseStockRequest(order_id=str(released_order)), timeout=2)
        confirmed = stub.ConfirmReservation(
            product_pb2.ConfirmReservationRequest(order_id=str(confirmed_order)), timeout=2
        )

    # then
    assert (released.released, confirmed.confirmed) == (True, True)
    assert dict(Reservation.objects.values_list("order_id", "status")) == {
        released_order: Reservation.Status.RELEASED,
        confirmed_order: Reservation.Status.CONFIRMED,
    }


def test_a_service_of_the_stack_not_named_in_the_policy_may_call_nothing(
    grpc_server: RunningServer, transactional_db: None, grpc_pki: GrpcTestPki
) -> None:
    # given: a certificate the stack's CA signed for users, which has no business with products
    product = ProductFactory.create(stock=5)
    channel, stub = _as(grpc_server, grpc_pki.identity("users"))
    labels = {"grpc_service": SERVICE_NAME, "grpc_method": "GetProduct", "grpc_code": "PERMISSION_DENIED"}
    before = REGISTRY.get_sample_value("shop_grpc_server_handled_total", labels) or 0.0

    # when
    with channel, pytest.raises(grpc.RpcError) as raised:
        stub.GetProduct(product_pb2.GetProductRequest(id=str(product.id)), timeout=2)

    # then: refused, and counted where dashboards see gRPC errors
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert REGISTRY.get_sample_value("shop_grpc_server_handled_total", labels) == before + 1


def test_the_client_refuses_a_server_whose_certificate_another_ca_signed(
    transactional_db: None, grpc_pki: GrpcTestPki
) -> None:
    # given: something answering at products' address with a "products" certificate the stack never issued
    impostor, running = start_fake_products(grpc_pki.foreign("products"))
    impostor.add_product()
    client = ProductsClient(impostor.target, deadline_seconds=1.0, tls=grpc_pki.identity("orders"))

    # when
    try:
        with pytest.raises(ProductsServiceUnavailable):
            client.reserve_stock(uuid.uuid4(), [(next(iter(impostor.products)), 1)])
    finally:
        client.close()
        running.stop(grace_seconds=0)

    # then: the order's lines never reached the impostor
    assert impostor.calls == {}


def test_the_fake_products_authorizes_callers_as_products_does() -> None:
    assert settings.PRODUCTS_GRPC_CALLERS == CALLERS
