"""gRPC interface of the catalog (`shop.product.v1.ProductService`): parse the request, call one selector or
service, build the reply. Errors are raised as ApplicationError; shopkit.grpc.server maps them to statuses."""

from __future__ import annotations

import uuid

import grpc

from product_svc.catalog import selectors, services
from product_svc.catalog.errors import CatalogValidationError, InvalidReservation
from product_svc.catalog.models import Product, ReservationLine
from shop.product.v1 import product_pb2, product_pb2_grpc
from shopkit.faults import apply_call

SERVICE_NAME = product_pb2.DESCRIPTOR.services_by_name["ProductService"].full_name
MAX_IDS_PER_LOOKUP = selectors.MAX_PRODUCTS_PER_LOOKUP
# Fault switches every method obeys first (shopkit.faults, docs/faults.md): FaultInjected is UNAVAILABLE.
GRPC_FAULTS = ("products-grpc-latency", "products-errors")


def _product_message(product: Product) -> product_pb2.Product:
    return product_pb2.Product(
        id=str(product.id),
        sku=product.sku,
        name=product.name,
        price=str(product.price),
        currency=product.currency,
        stock=product.stock,
        active=product.active,
    )


def _reserved_message(line: ReservationLine) -> product_pb2.ReservedLine:
    return product_pb2.ReservedLine(
        product_id=str(line.product_id),
        quantity=line.quantity,
        unit_price=str(line.unit_price),
        currency=line.currency,
        name=line.name,
    )


def _order_id(raw: str) -> uuid.UUID:
    parsed = selectors.parse_uuid(raw)
    if parsed is None:
        raise InvalidReservation("order_id must be a UUID.")
    return parsed


class ProductServicer(product_pb2_grpc.ProductServiceServicer):
    def GetProduct(self, request: product_pb2.GetProductRequest, context: grpc.ServicerContext) -> product_pb2.Product:
        apply_call(GRPC_FAULTS)
        return _product_message(selectors.product_get(product_id=request.id))

    def GetProducts(
        self, request: product_pb2.GetProductsRequest, context: grpc.ServicerContext
    ) -> product_pb2.GetProductsResponse:
        apply_call(GRPC_FAULTS)
        if len(request.ids) > MAX_IDS_PER_LOOKUP:
            raise CatalogValidationError({"ids": [f"At most {MAX_IDS_PER_LOOKUP} ids per call."]})
        products, missing = selectors.product_get_many(product_ids=request.ids)
        return product_pb2.GetProductsResponse(products=[_product_message(p) for p in products], missing_ids=missing)

    def ReserveStock(
        self, request: product_pb2.ReserveStockRequest, context: grpc.ServicerContext
    ) -> product_pb2.ReserveStockResponse:
        apply_call(GRPC_FAULTS)
        order_id = _order_id(request.order_id)
        if len(request.lines) > services.MAX_RESERVATION_LINES:
            raise InvalidReservation(f"A reservation has at most {services.MAX_RESERVATION_LINES} lines.")
        lines = []
        for line in request.lines:
            product_id = selectors.parse_uuid(line.product_id)
            if product_id is None:
                raise InvalidReservation("Every product_id must be a UUID.")
            lines.append((product_id, line.quantity))
        result = services.stock_reserve(order_id=order_id, lines=lines)
        return product_pb2.ReserveStockResponse(
            order_id=str(order_id), lines=[_reserved_message(line) for line in result.lines], replayed=result.replayed
        )

    def ReleaseStock(
        self, request: product_pb2.ReleaseStockRequest, context: grpc.ServicerContext
    ) -> product_pb2.ReleaseStockResponse:
        apply_call(GRPC_FAULTS)
        order_id = _order_id(request.order_id)
        released = services.stock_release(order_id=order_id)
        return product_pb2.ReleaseStockResponse(order_id=str(order_id), released=released)

    def ConfirmReservation(
        self, request: product_pb2.ConfirmReservationRequest, context: grpc.ServicerContext
    ) -> product_pb2.ConfirmReservationResponse:
        apply_call(GRPC_FAULTS)
        order_id = _order_id(request.order_id)
        confirmed = services.stock_confirm(order_id=order_id)
        return product_pb2.ConfirmReservationResponse(order_id=str(order_id), confirmed=confirmed)


def register(server: grpc.Server) -> None:
    product_pb2_grpc.add_ProductServiceServicer_to_server(ProductServicer(), server)
